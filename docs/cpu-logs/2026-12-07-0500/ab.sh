#!/bin/bash
# usage: ab.sh SIZE ROUNDS ITER [extra bench args]
S=$1; R=$2; IT=$3; shift 3
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 JDIFFUSION_SKIP_BUILD=1
for r in $(seq $R); do
  for v in old new; do
    d=$NEW; [ $v = old ] && d=$OLD
    out=$($d/jdiffusion bench --random-weights ${WT:-f32} --width $S --height $S --steps 0 --stages unet --warmup 1 --iterations $IT --profile "$@" 2>&1)
    echo "$out" > $RAW/ab-raw-$v-$r.txt
    call=$(echo "$out" | grep "^UNet call (batch 2)" | awk '{print $NF}')
    c3=$(echo "$out" | awk '/^conv3x3/ {s+=$(NF-2)} END {printf "%.1f", s}')
    c4=$(echo "$out" | awk "/^conv3x3 4x4|^conv3x3 8x8 1280->1280 stride/ {s+=\$(NF-2)} END {printf \"%.1f\", s}")
    c1=$(echo "$out" | awk "/^conv1x1/ {s+=\$(NF-2)} END {printf \"%.1f\", s}")
    lin=$(echo "$out" | awk "/^linear/ {s+=\$(NF-2)} END {printf \"%.1f\", s}")
    tot=$(echo "$out" | awk '/^total/ {print $(NF-1)}')
    echo "$(date +%H:%M:%S) $v call $call opsum $tot conv3x3 $c3 small3x3 $c4 conv1x1 $c1 linear $lin"
  done
done
