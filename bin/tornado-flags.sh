# Sourced by ./jdiffusion where TORNADOVM_HOME is set: adds the TornadoVM backend and its JVM flags.
# Filled in by the TornadoVM backend work (see backend-tornado/README.md).
cp="$cp:$(ls "$here"/backend-tornado/target/jdiffusion-backend-tornado-*.jar | head -n 1)"
