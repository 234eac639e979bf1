#!/bin/sh
# test_install.sh - taskfarm installed as a user on a cluster would have it:
# configure, build and install into a temporary prefix, then, outside the
# source tree, build the same small program (consumer/prog.c) against it
# every way the README gives, and run it:
#   1. pkg-config: shared (run with LD_LIBRARY_PATH only), and static
#      (libtaskfarm.a named, pkg-config --static for its dependencies);
#   2. CMake find_package: taskfarm::taskfarm and taskfarm::taskfarm_static;
#   3. Lmod: module use + module load taskfarm, then cc prog.c -ltaskfarm;
#   4. MPI: taskfarm::mpi under mpirun -n 2.
# And: the shared libraries export exactly the header's functions; no
# libmpi reaches a non-MPI program; the version is CMake's; installed
# programs find the library through their RPATH; the library alone
# configures, builds and installs with GMP and cmocka hidden.
# usage: test_install.sh SOURCE_DIR VERSION
set -u
src=$(cd "$1" && pwd)
version=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../cli/lib.sh
. "$here/../cli/lib.sh"
jobs=2
prefix=$tmp/prefix
log=$tmp/log

die() { echo "FAIL: $*"; [ -f "$log" ] && tail -n 30 "$log"; finish; exit 1; }

# run_logged COMMAND...: runs it with its output in $log.
run_logged() { "$@" >"$log" 2>&1; }

# The same sum the programs compute, done here: 0^2 + ... + 999^2.
n=1000
sum=$(( (n - 1) * n * (2 * n - 1) / 6 ))
want_prog="header $version library $version
sum $sum"

# check_prog NAME COMMAND...: prog's output, versions and sum, and the MPI
# backend refused with a message that names libtaskfarm_mpi.
check_prog() {
    name=$1; shift
    out=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ] && [ "$(printf '%s\n' "$out" | head -n 2)" = "$want_prog" ] &&
       has "$out" '^mpi: backend not built.*libtaskfarm_mpi'; then ok "$name"
    else bad "$name (rc=$rc)"; printf 'want:\n%s\nmpi: ...libtaskfarm_mpi...\ngot:\n%s\n' \
            "$want_prog" "$out"; fi
}

# no_needed FILE PATTERN: FILE has no NEEDED entry matching PATTERN.
no_needed() { ! readelf -d "$1" | grep NEEDED | grep -q -- "$2"; }

# ---- Build and install ----------------------------------------------------
run_logged cmake -S "$src" -B "$tmp/build" -DTF_BUILD_TESTS=OFF -DTF_BUILD_BENCH=OFF \
    -DTF_INSTALL_EXAMPLES=ON || die "configure"
run_logged cmake --build "$tmp/build" -j"$jobs" || die "build"
run_logged cmake --install "$tmp/build" --prefix "$prefix" || die "install"
# Nothing may refer to the build tree from here on.
rm -rf "$tmp/build"

lib=$(dirname "$(find "$prefix" -name libtaskfarm.so | head -n 1)")
check "install: libdir found under the prefix" [ -d "$lib" ]
minor=$(echo "$version" | cut -d. -f1-2)
for f in include/taskfarm.h include/taskfarm_version.h \
         "${lib#"$prefix"/}/libtaskfarm.so.$version" "${lib#"$prefix"/}/libtaskfarm.a" \
         "${lib#"$prefix"/}/libtaskfarm_mpi.so.$version" \
         "${lib#"$prefix"/}/pkgconfig/taskfarm.pc" "${lib#"$prefix"/}/pkgconfig/taskfarm-mpi.pc" \
         "${lib#"$prefix"/}/cmake/taskfarm/taskfarm-config.cmake" \
         "${lib#"$prefix"/}/cmake/taskfarm/taskfarm-config-version.cmake" \
         "share/modulefiles/taskfarm/$version.lua" bin/fibonacci_farm; do
    check "install: $f" [ -f "$prefix/$f" ]
done
check "install: SONAME libtaskfarm.so.$minor" \
      has "$(readelf -d "$lib/libtaskfarm.so")" "SONAME.*\[libtaskfarm\.so\.$minor\]"
check "install: SONAME libtaskfarm_mpi.so.$minor" \
      has "$(readelf -d "$lib/libtaskfarm_mpi.so")" "SONAME.*\[libtaskfarm_mpi\.so\.$minor\]"
check "install: libtaskfarm.so needs no libmpi" no_needed "$lib/libtaskfarm.so" libmpi

# ---- The export list: exactly the functions the header declares -----------
hdr=$prefix/include/taskfarm.h
cc -E -P -x c -I"$prefix/include" "$hdr" | grep -oE '\btf_[a-z0-9_]+ *\(' |
    tr -d ' (' | sort -u >"$tmp/declared"
grep -oE '^TF_API [^(]*\btf_[a-z0-9_]+\(' "$hdr" | grep -oE 'tf_[a-z0-9_]+\($' |
    tr -d '(' | sort -u >"$tmp/marked"
check "exports: the header declares functions" [ "$(wc -l <"$tmp/declared")" -gt 10 ]
check "exports: every declaration is TF_API" cmp -s "$tmp/declared" "$tmp/marked"
for so in libtaskfarm.so libtaskfarm_mpi.so; do
    nm -D --defined-only "$lib/$so" | awk '{print $NF}' | sort -u >"$tmp/exported"
    if cmp -s "$tmp/declared" "$tmp/exported"; then ok "exports: $so = the header"
    else bad "exports: $so = the header"; diff "$tmp/declared" "$tmp/exported"; fi
done

# ---- Installed programs find the library by their RPATH -------------------
# shellcheck disable=SC2016 # a literal $ORIGIN
check "rpath: \$ORIGIN in fibonacci_farm's RUNPATH" \
      has "$(readelf -d "$prefix/bin/fibonacci_farm")" 'R(UN)?PATH.*\$ORIGIN/'
out=$(env -u LD_LIBRARY_PATH "$prefix/bin/fibonacci_farm" --values 100:200 \
      --jobs 2 --backend threads 2>&1); rc=$?
check "rpath: the installed example runs without LD_LIBRARY_PATH" [ $rc -eq 0 ]
check "rpath: and verifies its results" has "$out" "^All results verified"
check "rpath: it loads the installed library" \
      has "$(env -u LD_LIBRARY_PATH ldd "$prefix/bin/fibonacci_farm")" "libtaskfarm\.so\.$minor => $prefix/bin/\.\./"

# ---- The taskfarm command: installed, found by its RPATH, with its man page --
check "command: bin/taskfarm installed" [ -x "$prefix/bin/taskfarm" ]
check "command: man1/taskfarm.1 installed" [ -f "$prefix/share/man/man1/taskfarm.1" ]
check "command: runs without LD_LIBRARY_PATH, output in order" \
      [ "$(env -u LD_LIBRARY_PATH "$prefix/bin/taskfarm" -j2 echo ::: a b c | paste -sd,)" = a,b,c ]
check "command: its version is the library's" \
      [ "$(env -u LD_LIBRARY_PATH "$prefix/bin/taskfarm" --version)" = "taskfarm $version" ]

# ---- 1. pkg-config, outside the source tree ----------------------------------
app=$tmp/app
mkdir -p "$app"
cp "$here/consumer/prog.c" "$here/consumer/prog_mpi.c" "$here/consumer/CMakeLists.txt" "$app/"
cd "$app" || die "cd $app"
pc() { PKG_CONFIG_PATH=$lib/pkgconfig pkg-config "$@"; }
check "pkg-config: version $version" [ "$(pc --modversion taskfarm)" = "$version" ]
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
run_logged cc prog.c $(pc --cflags --libs taskfarm) -o prog_pc || die "cc with pkg-config"
check_prog "pkg-config: shared, with LD_LIBRARY_PATH" env LD_LIBRARY_PATH="$lib" ./prog_pc
check "pkg-config: no libmpi in ldd" \
      sh -c "! LD_LIBRARY_PATH='$lib' ldd ./prog_pc | grep -q libmpi"
check "pkg-config: it uses the installed libtaskfarm.so" \
      has "$(LD_LIBRARY_PATH="$lib" ldd ./prog_pc)" "libtaskfarm\.so\.$minor => $lib/"
# pkg-config --static --libs also names -ltaskfarm; --as-needed keeps the
# shared library out, since the archive already defined everything.
# shellcheck disable=SC2046
run_logged cc prog.c $(pc --cflags taskfarm) -Wl,--as-needed "$lib/libtaskfarm.a" \
    $(pc --static --libs taskfarm) -o prog_pc_static || die "cc static"
check_prog "pkg-config: static" env -u LD_LIBRARY_PATH ./prog_pc_static
check "pkg-config: static: no libtaskfarm.so NEEDED" no_needed prog_pc_static libtaskfarm

# ---- 2. and 4. CMake find_package; taskfarm::mpi under mpirun --------------------
run_logged cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$minor" ||
    die "find_package(taskfarm $minor REQUIRED COMPONENTS mpi)"
run_logged cmake --build build -j"$jobs" || die "build the CMake consumer"
check_prog "cmake: taskfarm::taskfarm" env -u LD_LIBRARY_PATH build/prog_shared
check "cmake: taskfarm::taskfarm is the shared library" \
      has "$(readelf -d build/prog_shared)" "NEEDED.*libtaskfarm\.so\.$minor"
check "cmake: no libmpi in ldd" sh -c '! ldd build/prog_shared | grep -q libmpi'
check_prog "cmake: taskfarm::taskfarm_static" env -u LD_LIBRARY_PATH build/prog_static
check "cmake: static: no libtaskfarm.so NEEDED" no_needed build/prog_static libtaskfarm
next="${minor%.*}.$(( ${minor#*.} + 1 ))"
check "cmake: find_package(taskfarm $next) refuses $version" \
      sh -c "! cmake -S . -B build-next -DCMAKE_PREFIX_PATH='$prefix' -DWANT='$next' >'$log' 2>&1"
out=$(mpirun --allow-run-as-root --oversubscribe -n 2 build/prog_mpi 2>&1); rc=$?
check "mpi: taskfarm::mpi on 2 ranks" [ "$rc:$out" = "0:sum $sum ranks 2" ]
[ "$rc:$out" = "0:sum $sum ranks 2" ] || printf 'want: sum %s ranks 2\ngot:\n%s\n' "$sum" "$out"
check "mpi: linked to libtaskfarm_mpi, not libtaskfarm" sh -c \
      "readelf -d build/prog_mpi | grep -q 'NEEDED.*libtaskfarm_mpi' &&
       ! readelf -d build/prog_mpi | grep -q 'NEEDED.*libtaskfarm\.so'"

# ---- 3. Lmod: module load, then cc with no flags ----------------------------------
lmod=${LMOD_CMD:-/usr/share/lmod/lmod/libexec/lmod}
if [ ! -x "$lmod" ]; then
    bad "lmod: $lmod is missing: run 'make deps'"
else
    # What Lmod's init/sh defines, without the rest of a login shell.
    module() { eval "$("$lmod" sh "$@")"; }
    out=$(
        unset CPATH LIBRARY_PATH LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH MANPATH
        module use "$prefix/share/modulefiles" && module load taskfarm || exit 1
        for v in PATH CPATH LIBRARY_PATH LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH MANPATH; do
            eval "echo \"$v=\${$v:-}\""
        done
        [ "$(command -v taskfarm)" = "$prefix/bin/taskfarm" ] && echo "module: taskfarm on PATH"
        MANWIDTH=80 man taskfarm 2>/dev/null | grep -q "run a program you already have" &&
            echo "module: man taskfarm"
        cc prog.c -ltaskfarm -o prog_module || exit 1
        ./prog_module >"$tmp/module.out" 2>&1
    ); rc=$?
    check "lmod: module load taskfarm; cc prog.c -ltaskfarm" [ $rc -eq 0 ]
    for v in PATH=$prefix/bin CPATH=$prefix/include LIBRARY_PATH=$lib \
             LD_LIBRARY_PATH=$lib PKG_CONFIG_PATH=$lib/pkgconfig \
             CMAKE_PREFIX_PATH=$prefix MANPATH=$prefix/share/man; do
        check "lmod: sets ${v%%=*}" has "$out" "^$v"
    done
    check "lmod: taskfarm on PATH" has "$out" "^module: taskfarm on PATH"
    check "lmod: man taskfarm" has "$out" "^module: man taskfarm"
    check_prog "lmod: the program runs" cat "$tmp/module.out"
    # The Python module, where it was built: on PYTHONPATH with the module.
    pydir=$(find "$prefix/lib" -type d -path '*/site-packages/taskfarm' | head -n 1)
    if [ -n "$pydir" ]; then
        out=$(
            unset PYTHONPATH
            module use "$prefix/share/modulefiles" && module load taskfarm || exit 1
            cd "$tmp" && /usr/bin/python3 -c \
                'import taskfarm; print(taskfarm.__version__, taskfarm.map(abs, [-1, -2], 2))'
        )
        check "lmod: python3 -c 'import taskfarm' runs from PYTHONPATH" \
              [ "$out" = "$version [1, 2]" ]
    fi
fi

# ---- The library alone, with GMP and cmocka hidden --------------------------
# pkg-config finds them: a pkg-config directory with zlib.pc only hides them
# (and cmocka.pc alone returns for the cmocka case), zlib stays.
hide=$tmp/pc-zlib-only
mkdir -p "$hide"
cp "$(pkg-config --variable=pcfiledir zlib)/zlib.pc" "$hide/"
hidden() { env PKG_CONFIG_LIBDIR="$hide" PKG_CONFIG_PATH= "$@"; }
check "hidden: pkg-config still finds zlib" hidden pkg-config --exists zlib
check "hidden: but not gmp" sh -c "! PKG_CONFIG_LIBDIR='$hide' PKG_CONFIG_PATH= pkg-config --exists gmp"
check "hidden: nor cmocka" sh -c "! PKG_CONFIG_LIBDIR='$hide' PKG_CONFIG_PATH= pkg-config --exists cmocka"
run_logged hidden cmake -S "$src" -B "$tmp/build-lib" \
    -DTF_BUILD_EXAMPLES=OFF -DTF_BUILD_TESTS=OFF -DTF_BUILD_BENCH=OFF || die "hidden: configure"
run_logged hidden cmake --build "$tmp/build-lib" -j"$jobs" || die "hidden: build"
run_logged cmake --install "$tmp/build-lib" --prefix "$tmp/prefix-lib" || die "hidden: install"
check "hidden: the library installs" [ -f "$tmp/prefix-lib/include/taskfarm.h" ]
check "hidden: and no example (bin/ holds the taskfarm command only)" \
      [ "$(ls "$tmp/prefix-lib/bin")" = taskfarm ]
lib2=$(dirname "$(find "$tmp/prefix-lib" -name libtaskfarm.so | head -n 1)")
# shellcheck disable=SC2046
run_logged cc prog.c $(PKG_CONFIG_PATH=$lib2/pkgconfig pkg-config --cflags --libs taskfarm) \
    -o prog_lib || die "cc against the library alone"
check_prog "hidden: a program builds and runs on it" env LD_LIBRARY_PATH="$lib2" ./prog_lib

# With the examples on, missing GMP turns them off in one line.
hidden cmake -S "$src" -B "$tmp/build-nogmp" -DTF_BUILD_TESTS=OFF >"$log" 2>&1; rc=$?
check "hidden: no GMP, examples on: configures" [ $rc -eq 0 ]
check "hidden: and says the examples are off, in one line" \
      [ "$(grep -c 'GMP not found.*examples.*off' "$log")" -eq 1 ]
# With the tests on, missing cmocka is an error (GMP is there this time).
cp "$(pkg-config --variable=pcfiledir gmp)/gmp.pc" "$hide/"
hidden cmake -S "$src" -B "$tmp/build-nocmocka" >"$log" 2>&1; rc=$?
check "hidden: no cmocka, tests on: configure fails" [ $rc -ne 0 ]
check "hidden: and says cmocka is missing" grep -q "tests need cmocka" "$log"
rm "$hide/gmp.pc"
# As a sub-project the tests default to off: no cmocka needed.
run_logged hidden cmake -S "$here/consumer/sub" -B "$tmp/build-sub" \
    -DTASKFARM_SOURCE_DIR="$src" || die "sub-project: configure"
check "sub-project: no example or test target" sh -c \
      "! cmake --build '$tmp/build-sub' --target help | grep -qE 'fibonacci|test_farm'"
run_logged cmake --build "$tmp/build-sub" -j"$jobs" --target prog || die "sub-project: build"
check_prog "sub-project: taskfarm::taskfarm" "$tmp/build-sub/prog"

finish
