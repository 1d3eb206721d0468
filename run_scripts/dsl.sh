#!/usr/bin/env bash
# Deep Spike Learning with local classifiers (Ma et al. 2022): the seed README's 18 training commands,
# run through `hybridsnn train dsl` with the seed's flag names.
#
# Usage: run_scripts/dsl.sh [EXPERIMENT] [--test] [--checkpoint PATH] [--quick] [--print] [FLAGS...]
#   EXPERIMENT  a name (e.g. MNISTDNN-BELL), a number 1-18, "all" (every command in turn) or "list";
#               default: MNISTDNN-ELL
#   (none)      train (the seed's default mode)
#   --test      evaluate --checkpoint PATH instead of training (the checkpoint's configuration is used)
#   --quick     a minutes-long version (1 epoch on 2000 training / 1000 test images)
#   --print     show the command instead of running it
#   FLAGS       passed on to hybridsnn, e.g. --device cuda --amp --threads 1 --output DIR --seed 1
set -euo pipefail

HYBRIDSNN=${HYBRIDSNN:-hybridsnn}
NEURON="--tau 1 --thresh 1 --time-window 10 --print-stats"
CNN="--dim-in-decoder 1024"

NAMES=()
FLAGS=()
add() { NAMES+=("$1"); FLAGS+=("$2"); }
# dataset / model: BELL, then FELL and ELL (identical schedules), as in the seed README
add CIFARCNN-BELL   "--dataset CIFAR10 --model CIFARCNN --learning-rule BELL --epochs 400 --lr 1e-3 --lr-decay-fact 0.1 --lr-decay-milestones 400 $CNN"
add CIFARCNN-FELL   "--dataset CIFAR10 --model CIFARCNN --learning-rule FELL --epochs 200 --lr 5e-4 --lr-decay-fact 0.1 --lr-decay-milestones 100 200 $CNN"
add CIFARCNN-ELL    "--dataset CIFAR10 --model CIFARCNN --learning-rule ELL --epochs 200 --lr 5e-4 --lr-decay-fact 0.1 --lr-decay-milestones 100 200 $CNN"
add SVHNCNN-BELL    "--dataset SVHN --model SVHNCNN --learning-rule BELL --epochs 100 --lr 3e-3 --lr-decay-fact 0.2 --lr-decay-milestones 30 60 90 $CNN"
add SVHNCNN-FELL    "--dataset SVHN --model SVHNCNN --learning-rule FELL --epochs 100 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 40 80 $CNN"
add SVHNCNN-ELL     "--dataset SVHN --model SVHNCNN --learning-rule ELL --epochs 100 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 40 80 $CNN"
add FashionCNN-BELL "--dataset FashionMNIST --model FashionCNN --learning-rule BELL --epochs 150 --lr 3e-3 --lr-decay-fact 0.1 --lr-decay-milestones 80 120 $CNN"
add FashionCNN-FELL "--dataset FashionMNIST --model FashionCNN --learning-rule FELL --epochs 50 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 15 30 45 $CNN"
add FashionCNN-ELL  "--dataset FashionMNIST --model FashionCNN --learning-rule ELL --epochs 50 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 15 30 45 $CNN"
add FashionDNN-BELL "--dataset FashionMNIST --model FashionDNN --learning-rule BELL --epochs 150 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 60 120"
add FashionDNN-FELL "--dataset FashionMNIST --model FashionDNN --learning-rule FELL --epochs 50 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 15 30 45"
add FashionDNN-ELL  "--dataset FashionMNIST --model FashionDNN --learning-rule ELL --epochs 50 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 15 30 45"
add MNISTCNN-BELL   "--dataset MNIST --model MNISTCNN --learning-rule BELL --epochs 150 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 60 120 $CNN"
add MNISTCNN-FELL   "--dataset MNIST --model MNISTCNN --learning-rule FELL --epochs 50 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 15 30 45 $CNN"
add MNISTCNN-ELL    "--dataset MNIST --model MNISTCNN --learning-rule ELL --epochs 50 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 15 30 45 $CNN"
add MNISTDNN-BELL   "--dataset MNIST --model MNISTDNN --learning-rule BELL --epochs 150 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 60 120"
add MNISTDNN-FELL   "--dataset MNIST --model MNISTDNN --learning-rule FELL --epochs 50 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 15 30 45"
add MNISTDNN-ELL    "--dataset MNIST --model MNISTDNN --learning-rule ELL --epochs 50 --lr 5e-4 --lr-decay-fact 0.2 --lr-decay-milestones 15 30 45"

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

experiment="MNISTDNN-ELL"
if [[ $# -gt 0 && $1 != -* ]]; then
    experiment=$1
    shift
fi
print_only=0
passed=()
for arg in "$@"; do
    case $arg in
        --print) print_only=1 ;;
        -h|--help) usage; exit 0 ;;
        *) passed+=("$arg") ;;
    esac
done

if [[ $experiment == list ]]; then
    for i in "${!NAMES[@]}"; do
        printf '%2d %-16s %s train dsl %s %s\n' $((i + 1)) "${NAMES[$i]}" "$HYBRIDSNN" "${FLAGS[$i]}" "$NEURON"
    done
    exit 0
fi

selected=()
if [[ $experiment == all ]]; then
    selected=("${!NAMES[@]}")
elif [[ $experiment =~ ^[0-9]+$ ]]; then
    if (( experiment < 1 || experiment > ${#NAMES[@]} )); then
        echo "dsl.sh: error: experiment number $experiment is not in 1..${#NAMES[@]} (see: dsl.sh list)" >&2
        exit 2
    fi
    selected=($((experiment - 1)))
else
    for i in "${!NAMES[@]}"; do
        if [[ ${NAMES[$i],,} == "${experiment,,}" ]]; then selected=("$i"); fi
    done
    if [[ ${#selected[@]} -eq 0 ]]; then
        echo "dsl.sh: error: unknown experiment '$experiment'; allowed: ${NAMES[*]}, 1-${#NAMES[@]}, all, list" >&2
        exit 2
    fi
fi

for i in "${selected[@]}"; do
    # shellcheck disable=SC2206  # the flag strings are meant to split on spaces
    command=("$HYBRIDSNN" train dsl ${FLAGS[$i]} $NEURON --run-name "dsl-${NAMES[$i]}-$(date +%Y%m%d-%H%M%S)")
    command+=("${passed[@]+"${passed[@]}"}")
    if (( print_only )); then
        printf '%s\n' "${command[*]}"
    else
        "${command[@]}"
    fi
done
