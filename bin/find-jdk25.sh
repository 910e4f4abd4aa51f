# Sourced by ./mvnw and ./jdiffusion: points JAVA_HOME at a JDK 25 or newer.
# Order: JAVA_HOME if it is new enough, then `java` on PATH, then the usual install folders.
# Stops with a message naming what to install when none is found.

jdiffusion_java_major() { # prints the feature version of the java binary $1, or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

jdiffusion_is_jdk25() { # $1: a JDK home
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 1
  v=$(jdiffusion_java_major "$1/bin/java")
  [ -n "$v" ] && [ "$v" -ge 25 ]
}

jdiffusion_find_jdk25() {
  if [ -n "${JAVA_HOME-}" ] && jdiffusion_is_jdk25 "$JAVA_HOME"; then return 0; fi
  if command -v javac >/dev/null 2>&1; then
    home=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    if jdiffusion_is_jdk25 "$home"; then JAVA_HOME=$home; export JAVA_HOME; return 0; fi
  fi
  set +f # ./mvnw runs with globbing off
  for home in /usr/lib/jvm/*25* /usr/lib/jvm/*-2[5-9]* /usr/lib/jvm/*-3[0-9]* /opt/java/* /opt/jdk* /usr/local/jdk* "$HOME"/.sdkman/candidates/java/*; do
    if [ -d "$home" ] && jdiffusion_is_jdk25 "$home"; then JAVA_HOME=$home; export JAVA_HOME; return 0; fi
  done
  echo "jdiffusion needs a JDK 25 or newer, and none was found (JAVA_HOME='${JAVA_HOME-}', java on PATH is too old or missing)." >&2
  echo "Install one, e.g. 'apt-get install temurin-25-jdk' (Adoptium's apt repository) or unpack a JDK 25 and set JAVA_HOME to it." >&2
  exit 1
}

jdiffusion_find_jdk25
