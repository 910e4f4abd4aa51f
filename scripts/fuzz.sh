#!/usr/bin/env bash
# Real coverage-guided fuzzing of one Jazzer @FuzzTest, for SECONDS seconds (default 600):
#
#   scripts/fuzz.sh SafetensorsFuzzTest#headerAndFile 600
#   scripts/fuzz.sh list                      # every target, as CLASS#METHOD
#
# The regular build (./mvnw -B verify) replays each target's seed corpus (src/test/resources/<package>/
# <Class>Inputs/<method>/) as regression tests. Fuzzing starts from those seeds, keeps the inputs that reach
# new code in MODULE/.cifuzz-corpus/ (not committed), and writes any input that breaks the contract into the
# seed folder as crash-<sha1>, where the next regression run replays it: commit it with the fix.
# A single input that runs longer than 10 s (FuzzContract), or one that exhausts the 2 GiB heap, is a finding too.
# The log is MODULE/target/fuzz-CLASS-METHOD.log; the last line says how many inputs ran.
set -euo pipefail
cd "$(dirname "$0")/.."

targets() {
    grep -rl --include='*FuzzTest.java' '@FuzzTest' -- */src/test/java | while read -r f; do
        class=$(basename "$f" .java)
        grep -A2 '@FuzzTest' "$f" | grep -o 'void [A-Za-z0-9_]*(' | sed 's/void \(.*\)(/\1/' | sed "s/^/$class#/"
    done
}

if [[ "${1:-}" == list ]]; then
    targets
    exit 0
fi
if [[ $# -lt 1 || "$1" != *#* ]]; then
    echo "usage: scripts/fuzz.sh CLASS#METHOD [SECONDS] | list" >&2
    exit 2
fi
target=$1
seconds=${2:-600}
class=${target%%#*}
method=${target#*#}
source=$(grep -rl --include="$class.java" '@FuzzTest' -- */src/test/java | head -1 || true)
if [[ -z "$source" ]]; then
    echo "fuzz.sh: no @FuzzTest class $class (scripts/fuzz.sh list shows the targets)" >&2
    exit 2
fi
module=${source%%/src/*}
log="$module/target/fuzz-$class-$method.log"
mkdir -p "$module/target"
echo "fuzzing $target in $module for ${seconds}s; log: $log"
# -Xmx bounds the heap a finding may take; JAZZER_MAX_DURATION ends the run
status=0
JAZZER_FUZZ=1 JAZZER_MAX_DURATION="${seconds}s" ./mvnw -B -o -pl "$module" -am test \
    -Dtest="$class#$method" -Dsurefire.failIfNoSpecifiedTests=false -Djacoco.skip=true \
    -DargLine="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx2g" \
    -DredirectTestOutputToFile=false -DtrimStackTrace=true > "$log" 2>&1 || status=$?
runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 || true)
if [[ $status -ne 0 ]]; then
    echo "fuzz.sh: $target found a problem (or the build failed): see $log" >&2
    grep -E 'crash-|== Java Exception|FuzzTestFindingException|ERROR\]' "$log" | head -20 >&2 || true
    exit 1
fi
echo "$target: ${runs:-no libFuzzer summary (see $log)}"
