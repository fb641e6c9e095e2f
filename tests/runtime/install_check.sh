#!/bin/sh
# The install test of libnnzrt, in three steps that ctest runs as separate tests:
#   install_check.sh install   BUILD_DIR PREFIX              cmake --install of the component
#   install_check.sh cmake     PREFIX WORK SRC CC INPUT FLAGS  find_package(nnzrt) consumer
#   install_check.sh pkgconfig PREFIX WORK SRC CC INPUT FLAGS LIBDIR VERSION
# FLAGS are extra compiler and linker flags (the sanitizers when the tree is built with them,
# since the libraries then need their run-time support); may be empty. $CMAKE names the cmake
# to use (ctest passes the one that configured the tree).
set -eu
cmake=${CMAKE:-cmake}
mode=$1
shift
case $mode in
install)
	build=$1 prefix=$2
	rm -rf "$prefix"
	"$cmake" --install "$build" --prefix "$prefix" --component nnzrt
	;;
cmake)
	prefix=$1 work=$2 src=$3 cc=$4 input=$5 flags=$6
	rm -rf "$work"
	"$cmake" -S "$src" -B "$work" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_BUILD_TYPE=Debug
	"$cmake" --build "$work"
	for exe in consumer_static consumer_shared; do
		"$work/$exe" "$input" "$work/$exe.out.pb"
	done
	# the static one must not need the shared library at run time, the shared one must
	if readelf -d "$work/consumer_static" | grep -q 'libnnzrt'; then
		echo "consumer_static depends on libnnzrt.so" >&2
		exit 1
	fi
	readelf -d "$work/consumer_shared" | grep -q 'libnnzrt\.so'
	;;
pkgconfig)
	prefix=$1 work=$2 src=$3 cc=$4 input=$5 flags=$6 libdir=$7 version=$8
	rm -rf "$work"
	mkdir -p "$work"
	PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
	export PKG_CONFIG_PATH
	pkg-config --validate nnzrt
	got=$(pkg-config --modversion nnzrt)
	if [ "$got" != "$version" ]; then
		echo "pkg-config says version $got, want $version" >&2
		exit 1
	fi
	# word splitting of the pkg-config output and of $flags is intended
	# shellcheck disable=SC2046,SC2086
	"$cc" $flags -std=c11 -Wall -Wextra -Werror "$src/consumer.c" -o "$work/consumer_pc" \
		$(pkg-config --cflags --libs nnzrt)
	LD_LIBRARY_PATH="$prefix/$libdir" "$work/consumer_pc" "$input" "$work/out.pb"
	;;
*)
	echo "install_check.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
