"""Image → music: safe loading, local analysis, vision captions, sonification and the preview picture.

Everything here is blocking (decoding, numpy, HTTP through the LLM client): callers run it off the event
loop. Nothing here imports discord.
"""
