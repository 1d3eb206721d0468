#!/usr/bin/env bash
# Shifting Learning: the original scripts' experiments through `hybridsnn train|test shifting`.
#
# Usage: run_scripts/shifting.sh TASK [--test] [--checkpoint PATH] [--quick] [--print] [FLAGS...]
#   TASK        xor         SL_xor main(): one 2-8-2 run (400 epochs)
#               xor-rate    SL_xor's commented loop: success rate over 1000 seeds (--runs 1000)
#               iris        SL_small Iris_fold: 5-fold cross-validation, 4-10-3
#               iris-split  SL_small run_Task: the single split (fold 0)
#               mnist       SL_mnist: 784-800-10, 20 epochs, test (argmin) after every epoch
#               fashion-mnist  the same on Fashion-MNIST (needs its files under the data root)
#               spikes      SL_TCA: 500-3200-22 on synthetic aggregate-label trials, online
#               list        show the commands
#   --test      evaluate --checkpoint PATH on the task's test data instead of training
#   --checkpoint PATH  with training: start from this trained network
#   --quick     a small, fast version of the task (its own --runs/--folds unless given)
#   --print     show the command instead of running it
#   FLAGS       passed on to hybridsnn, e.g. --engine numba|genn --backend cuda --dt 0.01 --output DIR
#               --seed 1 --threads 1 --device cuda --epochs 5 --train-size 10000 --hidden 400
set -euo pipefail

HYBRIDSNN=${HYBRIDSNN:-hybridsnn}
declare -A FLAGS=(
    [xor]="--task xor --runs 1"
    [xor-rate]="--task xor --runs 1000"
    [iris]="--task iris --folds 5"
    [iris-split]="--task iris --folds 1"
    [mnist]="--task mnist"
    [fashion-mnist]="--task fashion-mnist"
    [spikes]="--task spikes"
)
ORDER=(xor xor-rate iris iris-split mnist fashion-mnist spikes)

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

if [[ $# -eq 0 || $1 == -h || $1 == --help ]]; then
    usage
    exit 0
fi
task=$1
shift
if [[ $task == list ]]; then
    for name in "${ORDER[@]}"; do printf '%-14s %s train shifting %s\n' "$name" "$HYBRIDSNN" "${FLAGS[$name]}"; done
    exit 0
fi
if [[ -z ${FLAGS[$task]+set} ]]; then
    echo "shifting.sh: error: unknown task '$task'; allowed: ${ORDER[*]}, list" >&2
    exit 2
fi

mode=train
print_only=0
checkpoint=()
passed=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --test) mode=test ;;
        --print) print_only=1 ;;
        --checkpoint)
            [[ $# -ge 2 ]] || { echo "shifting.sh: error: --checkpoint needs a PATH" >&2; exit 2; }
            checkpoint=(--checkpoint "$2")
            shift ;;
        *) passed+=("$1") ;;
    esac
    shift
done

# shellcheck disable=SC2206  # the flag strings are meant to split on spaces
task_flags=(${FLAGS[$task]})
for arg in "${passed[@]+"${passed[@]}"}"; do
    [[ $arg == --quick ]] && task_flags=("${task_flags[@]:0:2}")  # --quick picks its own runs/folds
done
if [[ $mode == test ]]; then
    [[ ${#checkpoint[@]} -gt 0 ]] || { echo "shifting.sh: error: --test needs --checkpoint PATH" >&2; exit 2; }
    command=("$HYBRIDSNN" test shifting "${task_flags[@]:0:2}" "${checkpoint[@]}")
else
    command=("$HYBRIDSNN" train shifting "${task_flags[@]}" "${checkpoint[@]+"${checkpoint[@]}"}")
fi
command+=("${passed[@]+"${passed[@]}"}")
if (( print_only )); then
    printf '%s\n' "${command[*]}"
else
    exec "${command[@]}"
fi
