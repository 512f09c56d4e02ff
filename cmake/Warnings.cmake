add_library(qcnn_warnings INTERFACE)
target_compile_options(qcnn_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter -Wno-maybe-uninitialized)

# Code generation flags shared by every project target. The SIMD kernels choose their
# instruction set at run time (CPU detection); the rest is built for the x86-64-v2 baseline
# unless QCNN_NATIVE is on.
add_library(qcnn_codegen INTERFACE)
if(QCNN_NATIVE)
  target_compile_options(qcnn_codegen INTERFACE -march=native)
else()
  target_compile_options(qcnn_codegen INTERFACE -march=x86-64-v2)
endif()
if(QCNN_SANITIZE)
  target_compile_options(qcnn_codegen INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(qcnn_codegen INTERFACE -fsanitize=address,undefined)
endif()
