#!/usr/bin/env bash
# Memory-enriched SNN with Hebbian plasticity (Limbacher et al. 2022): the seed README's experiments,
# run through `hybridsnn train hebbian` with the seed's flag names (dashes instead of underscores).
#
# Usage: run_scripts/hebbian.sh [EXPERIMENT] [--quick] [--nproc N] [--evaluate] [--resume PATH] [--print] [FLAGS...]
#   EXPERIMENT  associations (default: 10 pairs, 10 classes), hmem / lstm (the baselines on the same task),
#               sweep (SNN, hmem and lstm at every length in $LENGTHS, classes = length), ood (train with
#               $OOD_TRAIN pairs of $OOD_CLASSES classes, test at 3..$OOD_CLASSES pairs), list;
#               cross-modal (FSDD → MNIST), babi (bAbI QA, task via --babi-task N), babi-all (tasks 1..20);
#               omniglot (1-shot 5-way; --encoders PATH reuses a pre-trained ProtoNet);
#               concentration (memory card game with PPO; --num-cells 4 or 6)
#   --quick     the CPU smoke configuration, under 2 minutes (1 pair of 4 classes, E=40, M=50, 3 x 10 batches of 32)
#   --nproc N   distributed data parallel over N processes with torchrun (NCCL on GPUs, gloo on CPU)
#   --evaluate  with --resume CKPT: the seed's evaluation mode, i.e. `hybridsnn test hebbian --checkpoint CKPT`
#   --resume P  a checkpoint file (with --evaluate, or to start from its weights) or a run directory to continue
#   --print     show the command instead of running it
#   FLAGS       passed on to hybridsnn, e.g. --device cuda --threads 1 --output DIR --seed 1 --checkpoint-steps 32
set -euo pipefail

HYBRIDSNN=${HYBRIDSNN:-hybridsnn}
LENGTHS=${LENGTHS:-"1 2 5 10 20 30 40 50 55"}
OOD_TRAIN=${OOD_TRAIN:-10}
OOD_CLASSES=${OOD_CLASSES:-20}

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

experiment=associations
if [[ $# -gt 0 && $1 != -* ]]; then
    experiment=$1
    shift
fi
print_only=0
evaluate=0
nproc=1
resume=""
passed=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --print) print_only=1 ;;
        --evaluate) evaluate=1 ;;
        --nproc) nproc=$2; shift ;;
        --resume) resume=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) passed+=("$1") ;;
    esac
    shift
done

launcher=("$HYBRIDSNN")
if (( nproc > 1 )); then
    launcher=("${PYTHON:-python}" -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m hybridsnn)
fi

run() {  # run [hybridsnn arguments...]
    local command=("${launcher[@]}" "$@" "${passed[@]+"${passed[@]}"}")
    if (( print_only )); then printf '%s\n' "${command[*]}"; else "${command[@]}"; fi
}

mode=(train hebbian)
if (( evaluate )); then
    if [[ -z $resume || -d $resume ]]; then
        echo "hebbian.sh: error: --evaluate needs --resume CHECKPOINT_FILE (a .safetensors checkpoint)" >&2
        exit 2
    fi
    mode=(test hebbian --checkpoint "$resume")
elif [[ -n $resume && -d $resume ]]; then
    mode+=(--resume "$resume")
elif [[ -n $resume ]]; then
    mode+=(--checkpoint "$resume")
fi

stamp=$(date +%Y%m%d-%H%M%S)
case $experiment in
    list)
        printf '%s\n' associations hmem lstm sweep ood omniglot cross-modal babi babi-all concentration ;;
    associations) run "${mode[@]}" --task associations --run-name "hebbian-associations-$stamp" ;;
    hmem|lstm)
        if (( evaluate )); then run "${mode[@]}" --task associations
        else run "${mode[@]}" --task associations --network "$experiment" --run-name "hebbian-$experiment-$stamp"; fi ;;
    sweep)
        for length in $LENGTHS; do
            for network in snn hmem lstm; do
                run train hebbian --task associations --network "$network" --sequence-length "$length" \
                    --num-classes "$length" --run-name "hebbian-sweep-$network-L$length-$stamp"
            done
        done ;;
    ood)
        for network in snn lstm; do
            run train hebbian --task associations --network "$network" --sequence-length "$OOD_TRAIN" \
                --num-classes "$OOD_CLASSES" --test-lengths $(seq 3 "$OOD_CLASSES") \
                --run-name "hebbian-ood-$network-$stamp"
        done ;;
    omniglot|cross-modal|babi|concentration) run "${mode[@]}" --task "$experiment" ;;
    babi-all)
        for task in $(seq 1 20); do
            run train hebbian --task babi --babi-task "$task" --run-name "hebbian-babi-$task-$stamp"
        done ;;
    *)
        echo "hebbian.sh: error: unknown experiment '$experiment'; allowed: associations, hmem, lstm, sweep, ood," \
             "omniglot, cross-modal, babi, babi-all, concentration, list" >&2
        exit 2 ;;
esac
