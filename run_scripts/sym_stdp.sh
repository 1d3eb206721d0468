#!/usr/bin/env bash
# sym-STDP in the style of the original ./run.sh: trains by default.
#   ./run_scripts/sym_stdp.sh                      train N=400 on MNIST for one epoch
#   ./run_scripts/sym_stdp.sh --quick              N=100, 3000 samples (minutes on a laptop)
#   ./run_scripts/sym_stdp.sh --test --checkpoint output/RUN/checkpoints/final.safetensors
#   ./run_scripts/sym_stdp.sh --test --checkpoint CKPT --nproc 2   the test set split over 2 torchrun processes
#                                                  (adds --independent-images: each image from a fresh state)
#   ./run_scripts/sym_stdp.sh --checkpoint CKPT    layer-by-layer: keep CKPT's hidden layer, train the output layer
# Any other flag goes to `hybridsnn train sym-stdp` (see `hybridsnn train sym-stdp --help`), e.g.
#   --dataset fashion-mnist --neurons 6400 --epochs 20 --engine genn --output DIR
set -euo pipefail
mode=train
checkpoint=""
nproc=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --train) mode=train ;;
    --test) mode=test ;;
    --checkpoint) checkpoint="$2"; shift ;;
    --nproc) nproc="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
case "$nproc" in
  ''|*[!0-9]*|0) echo "sym_stdp.sh: --nproc '$nproc': expected a whole number >= 1" >&2; exit 2 ;;
esac
hybridsnn=${HYBRIDSNN:-hybridsnn}
if [ "$mode" = test ]; then
  [ -n "$checkpoint" ] || { echo "sym_stdp.sh: --test needs --checkpoint PATH" >&2; exit 2; }
  if [ "$nproc" -gt 1 ]; then
    exec "${PYTHON:-python}" -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m hybridsnn \
      test sym-stdp --independent-images --checkpoint "$checkpoint" "${args[@]}"
  fi
  exec $hybridsnn test sym-stdp --checkpoint "$checkpoint" "${args[@]}"
fi
[ "$nproc" -eq 1 ] || { echo "sym_stdp.sh: --nproc applies to --test (training runs in one process)" >&2; exit 2; }
if [ -n "$checkpoint" ]; then
  exec $hybridsnn train sym-stdp --fixed-hidden "$checkpoint" "${args[@]}"
fi
exec $hybridsnn train sym-stdp "${args[@]}"
