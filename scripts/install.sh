#!/usr/bin/env bash
# Set up .venv with everything promptjam needs on a CPU machine (no GPU, no API key, no downloads at run time).
#   scripts/install.sh          the bot, the command line and the styles engine
#   scripts/install.sh --dev    the same plus the model backends' packages (diffusers) and the test tools
#                               (and redis-server, when run as root with apt-get)
#   scripts/install.sh --gpu    the bot plus the model backends' packages (riffusion; needs the model files)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
extras="embeddings"
if [[ "${1:-}" == "--dev" ]]; then
    extras="embeddings,gpu,dev"
elif [[ "${1:-}" == "--gpu" ]]; then
    extras="embeddings,gpu"
fi

if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch is pinned in the same command: the pinned CPU build is what the embeddings need, and an
# unpinned torch would pull a multi-gigabyte CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0" -e ".[${extras}]"
# The SoundFont synthesiser. --no-deps: its wheel declares PyAudio (live playback), which we do not
# use and which does not build without PortAudio headers.
.venv/bin/python -m pip install --quiet --no-deps "tinysoundfont==0.3.7"
# The code backend's sandbox: bubblewrap (namespaces) and libseccomp (syscall filter). Only as root with
# apt-get; without them the sandbox falls back to Landlock, or the code backend stays off and says why.
if ! command -v bwrap >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q libseccomp.so.2; then
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends bubblewrap libseccomp2; } >/dev/null \
            || echo "warning: could not install bubblewrap/libseccomp2; the code backend's sandbox may be weaker"
    else
        echo "note: install bubblewrap and libseccomp2 (as root) for the code backend's strongest sandbox"
    fi
fi
# The worker tests start their own redis-server (loopback, a random port, no persistence), so --dev wants
# the binary. Only as root with apt-get; otherwise a note. Debian's package may also start a system redis
# service: harmless, nothing here uses it.
if [[ "${1:-}" == "--dev" ]] && ! command -v redis-server >/dev/null 2>&1; then
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } >/dev/null \
            || true
        command -v redis-server >/dev/null 2>&1 \
            || echo "warning: could not install redis-server; the worker tests need it (apt-get install redis-server)"
    else
        echo "note: the tests need redis-server (Redis >= 6.2) on PATH: e.g. sudo apt-get install redis-server"
    fi
fi
echo "promptjam is installed in .venv"
