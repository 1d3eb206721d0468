#!/usr/bin/env bash
# Hybrid global-local plasticity SNN (Wu et al. 2022): the seed's five experiments through `hybridsnn ... hp`.
#
# Usage: run_scripts/hp.sh TASK [--test] [--checkpoint PATH] [--quick] [--print] [FLAGS...]
#   TASK        simple          HP, GP and LP 784-512-10 on MNIST (seed: Fashion-MNIST), then the noise sweep
#               classification  the MNIST CNN (add --dataset fashion-mnist or cifar10 for the others)
#               tolerance       HP and GP tolerance MLPs, then occlusion and noise sweeps
#               fewshot         HP and GP Omniglot 5-way 1-shot (small background sets; --omniglot-sets full)
#               multitask       HP, GP and spiking EWC on permuted MNIST
#   (none)      train every method of the task, then draw the comparison figures
#   --test      evaluate --checkpoint PATH instead (its task/method must match; add --method to check it)
#   --quick     a minutes-long version of every run
#   --print     show the commands instead of running them
#   FLAGS       passed on to hybridsnn, e.g. --device cuda --epochs 5 --output DIR --seed 1
set -euo pipefail

HYBRIDSNN=${HYBRIDSNN:-hybridsnn}
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

if [[ $# -eq 0 || $1 == -h || $1 == --help ]]; then usage; exit 0; fi
task=$1
shift
case $task in
    simple) methods=(hp gp lp) ;;
    classification) methods=(hp) ;;
    tolerance|fewshot) methods=(hp gp) ;;
    multitask) methods=(hp gp ewc) ;;
    *) echo "hp.sh: error: unknown task '$task'; allowed: simple, classification, tolerance, fewshot, multitask" >&2
       exit 2 ;;
esac

print_only=0 testing=0 output=output passed=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --print) print_only=1 ;;
        --test) testing=1 ;;
        --output) output=$2; passed+=("$1" "$2"); shift ;;
        *) passed+=("$1") ;;
    esac
    shift
done

run() {
    if (( print_only )); then printf '%s\n' "$*"; else "$@"; fi
}

if (( testing )); then
    run "$HYBRIDSNN" test hp --task "$task" "${passed[@]+"${passed[@]}"}"
    exit 0
fi

stamp=$(date +%Y%m%d-%H%M%S)
dirs=()
for method in "${methods[@]}"; do
    name="hp-$task-$method-$stamp"
    run "$HYBRIDSNN" train hp --task "$task" --method "$method" --run-name "$name" "${passed[@]+"${passed[@]}"}"
    dirs+=("$output/$name")
done
run "$HYBRIDSNN" plot hp "${dirs[@]}"
