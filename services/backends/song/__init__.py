"""The song backend: ACE-Step 1.5 through diffusers' AceStepPipeline (lyrics, vocals, covers, stems)."""
