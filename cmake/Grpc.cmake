# gRPC plumbing shared by the connectors that serve gRPC (grpc and arrow).
# Include it from a connector's CMakeLists.txt; nothing is
# looked up unless such a connector is part of the build.
#
#   pgcdc_use_grpc()
#     Finds grpc++ and protobuf (pkg-config), protoc and grpc_cpp_plugin, and
#     adds the pgcdc_rpc library (src/rpc: server start/stop, TLS, bearer
#     token) once.
#
#   pgcdc_grpc_proto_library(NAME PROTOS proto/pgcdc/x.proto ... [NO_GRPC]
#                            [CPP_NAMESPACE ns])
#     Generates C++ from the .proto files (paths relative to the project
#     root; imports resolve from proto/) at build time into
#     <build>/generated/proto and builds them as the static library NAME.
#     Link it PRIVATE into the one library whose .cc files include the
#     generated headers: every other translation unit stays free of them
#     (compile firewall). NO_GRPC: messages only, no service stubs.
#     CPP_NAMESPACE: the generated C++ lives in `ns` instead of the proto
#     package's namespace (protoc has no option for it). Needed for
#     `package pgcdc;`: its message `Event` would be a second ::pgcdc::Event
#     next to the core's (an ODR violation the linker does not report). The
#     wire names (/pgcdc.EventStream/Subscribe, pgcdc.Event) are unchanged.
include_guard(GLOBAL)

function(pgcdc_use_grpc)
  if(TARGET pgcdc_rpc)
    return()
  endif()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(PGCDC_GRPCPP REQUIRED IMPORTED_TARGET GLOBAL grpc++)
  pkg_check_modules(PGCDC_PROTOBUF REQUIRED IMPORTED_TARGET GLOBAL protobuf)
  find_program(PGCDC_PROTOC protoc REQUIRED)
  find_program(PGCDC_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
  add_subdirectory(${PROJECT_SOURCE_DIR}/src/rpc ${CMAKE_BINARY_DIR}/src/rpc)
endfunction()

function(pgcdc_grpc_proto_library name)
  cmake_parse_arguments(ARG "NO_GRPC" "CPP_NAMESPACE" "PROTOS" ${ARGN})
  pgcdc_use_grpc()
  set(proto_root ${PROJECT_SOURCE_DIR}/proto)
  set(out ${CMAKE_BINARY_DIR}/generated/proto)
  set(sources)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(abs ${PROJECT_SOURCE_DIR}/${proto} ABSOLUTE)
    file(RELATIVE_PATH rel ${proto_root} ${abs})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(generated ${out}/${stem}.pb.cc ${out}/${stem}.pb.h)
    set(plugin_args)
    if(NOT ARG_NO_GRPC)
      list(APPEND generated ${out}/${stem}.grpc.pb.cc ${out}/${stem}.grpc.pb.h)
      set(plugin_args --grpc_out=${out} --plugin=protoc-gen-grpc=${PGCDC_GRPC_CPP_PLUGIN})
    endif()
    set(rename)
    if(ARG_CPP_NAMESPACE)
      get_filename_component(package_dir ${rel} DIRECTORY)
      string(REPLACE "/" "::" package ${package_dir})
      if(NOT package MATCHES "^[a-z_]+$")
        message(FATAL_ERROR "CPP_NAMESPACE: only for a one-level package (got ${package_dir})")
      endif()
      set(rename COMMAND sed -i
        -e "s/^namespace ${package} {$/namespace ${ARG_CPP_NAMESPACE} {/"
        -e "s|^}  // namespace ${package}$|}  // namespace ${ARG_CPP_NAMESPACE}|"
        -e "s/::${package}::/::${ARG_CPP_NAMESPACE}::/g"
        ${generated})
    endif()
    add_custom_command(
      OUTPUT ${generated}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND ${PGCDC_PROTOC} --proto_path=${proto_root} --cpp_out=${out} ${plugin_args} ${abs}
      ${rename}
      DEPENDS ${abs} ${PGCDC_PROTOC}
      COMMENT "protoc ${rel}"
      VERBATIM)
    list(FILTER generated INCLUDE REGEX "\\.cc$")
    list(APPEND sources ${generated})
  endforeach()
  add_library(${name} STATIC ${sources})
  # Generated code: system include so its warnings never fail our builds.
  target_include_directories(${name} SYSTEM PUBLIC ${out})
  target_link_libraries(${name} PUBLIC PkgConfig::PGCDC_GRPCPP PkgConfig::PGCDC_PROTOBUF)
endfunction()
