# Sourced by ./jdiffusion where TORNADOVM_HOME is set: adds the TornadoVM backend and its JVM flags.
# TornadoVM's SDK lists the flags its runtime needs (module path, JVMCI, Graal compiler, exports) in
# $TORNADOVM_HOME/tornado-argfile; an SDK that ships only the template (paths as ${TORNADOVM_HOME}) gets it
# expanded into a cache file. See backend-tornado/README.md.
# the module's jar, not its -sources or -javadoc jar beside it (the first of the three by name is -javadoc)
cp="$cp:$(ls "$here"/backend-tornado/target/jdiffusion-backend-tornado-*.jar | grep -v -e '-sources\.jar$' -e '-javadoc\.jar$' | head -n 1)"
tornado_argfile="$TORNADOVM_HOME/tornado-argfile"
if [ ! -f "$tornado_argfile" ] && [ -f "$tornado_argfile.template" ]; then
  tornado_argfile="${XDG_CACHE_HOME:-$HOME/.cache}/jdiffusion/tornado-argfile"
  mkdir -p "$(dirname "$tornado_argfile")"
  sed "s|\${TORNADOVM_HOME}|$TORNADOVM_HOME|g" "$TORNADOVM_HOME/tornado-argfile.template" > "$tornado_argfile"
fi
if [ -f "$tornado_argfile" ]; then
  jvm+=("@$tornado_argfile")
else
  echo "jdiffusion: TORNADOVM_HOME=$TORNADOVM_HOME has no tornado-argfile; the tornado backend will report itself unavailable" >&2
fi
# The JDK's signal-chaining library: the JVM keeps its own SIGSEGV/SIGBUS/SIGFPE/SIGILL handlers, which compiled Java
# code relies on (implicit null checks), when a driver's library installs handlers of its own (PoCL's LLVM does; a
# fault the JVM would have handled then kills the process). Other signals still reach the library's handlers.
if [ -f "$JAVA_HOME/lib/libjsig.so" ]; then
  export LD_PRELOAD="$JAVA_HOME/lib/libjsig.so${LD_PRELOAD:+:$LD_PRELOAD}"
fi
