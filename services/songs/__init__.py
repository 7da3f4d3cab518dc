"""What users type for songs (lyrics, languages, metres, time ranges), checked before a job is queued.

Light (no torch, no backend): the engine, the cogs' modals and the song backend all read these rules.
"""
