# Compiler options for the project's own targets only (never applied to LibTorch or GoogleTest).

# -Wall -Wextra -Werror for our code. Third-party headers come in as SYSTEM includes.
function(bpninja_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()

# The asan preset sets BPNINJA_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer on our code.
option(BPNINJA_SANITIZE "Build the project's own code with ASan and UBSan" OFF)
function(bpninja_set_sanitizers target)
  if(BPNINJA_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# The fuzz preset (clang) sets BPNINJA_FUZZ=ON: the library gets coverage instrumentation and
# ASan/UBSan, and fuzz/ adds the libFuzzer targets.
option(BPNINJA_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
function(bpninja_set_fuzz_instrumentation target)
  if(BPNINJA_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  endif()
endfunction()

function(bpninja_configure_target target)
  bpninja_set_warnings(${target})
  bpninja_set_sanitizers(${target})
  bpninja_set_fuzz_instrumentation(${target})
endfunction()
