# Warnings and sanitizers live on INTERFACE targets that each target links, never on global flags.
add_library(certwatch_warnings INTERFACE)
add_library(certwatch::warnings ALIAS certwatch_warnings)
target_compile_options(certwatch_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough)

# CI builds (scripts/test.sh) turn warnings into errors, with two exceptions that are not about our
# code: -Wmissing-field-initializers, which GCC 12 raises for every aggregate initialised without
# its trailing members even when they have default member initializers (the style of every config
# and result struct here), and -Wnull-dereference, whose flow analysis GCC 12 reports inside
# Boost.Asio's scheduler and libstdc++'s streambuf after inlining (it stays a warning).
option(CERTWATCH_WERROR "Treat compiler warnings as errors (CI)" OFF)
if(CERTWATCH_WERROR)
  target_compile_options(certwatch_warnings INTERFACE
    -Werror -Wno-error=null-dereference -Wno-missing-field-initializers)
endif()

option(CERTWATCH_SANITIZE "Build with a sanitizer: address (ASan+UBSan) or thread" "")
add_library(certwatch_sanitizers INTERFACE)
add_library(certwatch::sanitizers ALIAS certwatch_sanitizers)
if(CERTWATCH_SANITIZE STREQUAL "address")
  target_compile_options(certwatch_sanitizers INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(certwatch_sanitizers INTERFACE -fsanitize=address,undefined)
elseif(CERTWATCH_SANITIZE STREQUAL "thread")
  target_compile_options(certwatch_sanitizers INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(certwatch_sanitizers INTERFACE -fsanitize=thread)
endif()

add_library(certwatch_options INTERFACE)
add_library(certwatch::options ALIAS certwatch_options)
target_link_libraries(certwatch_options INTERFACE certwatch_warnings certwatch_sanitizers)
target_compile_features(certwatch_options INTERFACE cxx_std_20)
