#!/bin/bash
# usage: ab-opts.sh SIZE ROUNDS ITER "OPTS": old = launcher defaults, new = JDIFFUSION_JAVA_OPTS=OPTS
S=$1; R=$2; IT=$3; O=$4
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 JDIFFUSION_SKIP_BUILD=1
cd "$(dirname "$0")/../../.."
for r in $(seq $R); do
  for v in old new; do
    if [ $v = new ]; then export JDIFFUSION_JAVA_OPTS="$O"; else unset JDIFFUSION_JAVA_OPTS; fi
    out=$(./jdiffusion bench --random-weights ${WT:-f32} --width $S --height $S --steps 0 --stages unet --warmup 2 --iterations $IT --profile 2>&1)
    echo "$out" > /tmp/ab-raw-$v-$r.txt
    call=$(echo "$out" | grep "^UNet call (batch 2)" | awk '{print $NF}')
    c3=$(echo "$out" | awk '/^conv3x3/ {s+=$(NF-2)} END {printf "%.1f", s}')
    c1=$(echo "$out" | awk "/^conv1x1/ {s+=\$(NF-2)} END {printf \"%.1f\", s}")
    lin=$(echo "$out" | awk "/^linear/ {s+=\$(NF-2)} END {printf \"%.1f\", s}")
    att=$(echo "$out" | awk "/^attention/ {s+=\$(NF-2)} END {printf \"%.1f\", s}")
    tot=$(echo "$out" | awk '/^total/ {print $(NF-1)}')
    echo "$(date +%H:%M:%S) $v call $call opsum $tot conv3x3 $c3 conv1x1 $c1 linear $lin attention $att"
  done
done
