#!/bin/sh
# tests/support/no_fma.sh OBJDUMP "NAMES" OBJECT...: fails when any object whose file name is NAME.o (for a
# NAME in the space-separated NAMES) holds an fma instruction (vfmadd*, vfmsub*, vfnmadd*, vfnmsub*, with
# the addsub forms), when NAMES is empty, when not every NAME is found among the objects, or when
# OBJDUMP cannot disassemble one. The files compiled with -ffp-contract=off (src/CMakeLists.txt) must
# round a*b+c as written; a header that turns contraction back on (GCC 12's <immintrin.h> does) would
# change their results silently, within the verdict's bounds but no longer bit for bit.
objdump=$1
names=$2
shift 2
if [ -z "$names" ]; then
  echo "no_fma.sh: no file names given (is BPNINJA_UNCONTRACTED_SOURCES set in src/CMakeLists.txt?)"
  exit 1
fi
status=0
for name in $names; do
  found=
  for obj in "$@"; do
    case "$obj" in
    */"$name".o)
      found=1
      if ! listing=$("$objdump" -d --no-show-raw-insn "$obj") || [ -z "$listing" ]; then
        echo "no_fma.sh: $objdump could not disassemble $obj"
        status=1
        continue
      fi
      count=$(printf '%s\n' "$listing" | grep -c -E '[[:space:]]vf(n)?m(add|sub)')
      if [ "$count" -ne 0 ]; then
        echo "no_fma.sh: $obj has $count fma instructions; it is compiled with -ffp-contract=off, so a header" \
          "turned contraction back on (keep <immintrin.h> out of it)"
        status=1
      else
        echo "no_fma.sh: $obj: no fma instruction"
      fi
      ;;
    esac
  done
  if [ -z "$found" ]; then
    echo "no_fma.sh: no object for $name among the $# given"
    status=1
  fi
done
exit $status
