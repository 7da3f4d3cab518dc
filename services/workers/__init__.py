"""Workers on other machines: jobs through Redis Streams with taskiq, behind the job seam's Executor.

Read in this order: keys (every Redis name), connection (one client per side), broker (taskiq's stream
broker, made to reclaim a dead worker's job without new traffic and to renew live claims), wire (outcomes
and files as Redis values), announce (which worker serves which backend), submit (the bot's side: an
Executor that sends jobs and waits for their events), worker (the `promptjam worker` process).
"""
