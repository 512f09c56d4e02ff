# All dependencies come from Debian's packages (see README: scripts/setup.sh installs them).
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(ONNX REQUIRED)            # libonnx-dev: targets onnx, onnx_proto
find_package(Protobuf REQUIRED)        # libprotobuf-dev
find_package(HDF5 REQUIRED COMPONENTS C HL)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
if(QCNN_BUILD_UI)
  find_package(Qt6 REQUIRED COMPONENTS Core Gui Widgets PrintSupport Test)
  find_package(QCustomPlotQt6 REQUIRED)
endif()
if(QCNN_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
