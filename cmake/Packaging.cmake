# Installation layout and `make package` (CPack DEB): the binary, its man page,
# shell completions, systemd units and example configurations, all but the units
# generated from the binary itself so they never drift from `--help`.
# Debug symbols go into the pgcdc-dbgsym package (CPACK_DEBIAN_DEBUGINFO_PACKAGE).
include(GNUInstallDirs)

set(_gen ${CMAKE_BINARY_DIR}/package-files)
set(_examples wal-stdout wal-webhook wal-kafka outbox-nats)
set(_example_args_wal-stdout --detector wal --adapter stdout)
set(_example_args_wal-webhook --detector wal --adapter webhook)
set(_example_args_wal-kafka --detector wal --adapter kafka)
set(_example_args_outbox-nats --detector outbox --adapter nats)
set(_generated ${_gen}/pgcdc.bash ${_gen}/_pgcdc ${_gen}/pgcdc.fish ${_gen}/pgcdc.1.gz)
set(_example_commands)
foreach(ex IN LISTS _examples)
  list(APPEND _generated ${_gen}/examples/${ex}.yaml)
  list(APPEND _example_commands COMMAND $<TARGET_FILE:pgcdc> config init ${_example_args_${ex}}
    -o ${_gen}/examples/${ex}.yaml --force)
endforeach()
add_custom_command(OUTPUT ${_generated}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_gen}/examples
  COMMAND sh -c "\"$1\" completion bash > \"$2\"/pgcdc.bash" sh $<TARGET_FILE:pgcdc> ${_gen}
  COMMAND sh -c "\"$1\" completion zsh > \"$2\"/_pgcdc" sh $<TARGET_FILE:pgcdc> ${_gen}
  COMMAND sh -c "\"$1\" completion fish > \"$2\"/pgcdc.fish" sh $<TARGET_FILE:pgcdc> ${_gen}
  COMMAND sh -c "\"$1\" man | gzip -9n > \"$2\"/pgcdc.1.gz" sh $<TARGET_FILE:pgcdc> ${_gen}
  ${_example_commands}
  DEPENDS pgcdc
  COMMENT "Generating man page, completions and example configurations"
  VERBATIM)
add_custom_target(pgcdc_package_files ALL DEPENDS ${_generated})

install(TARGETS pgcdc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Libraries that are not Debian packages ship privately in /usr/lib/pgcdc, as
# does the Wasm engine module; the binary links none of them and loads them
# when a configuration needs them (src/core/dynlib.h): DuckDB (Parquet output,
# the duckdb sink) and V8 from libnode108 (Wasm plugins; it conflicts with
# NodeSource's nodejs), which the module finds through its RUNPATH ($ORIGIN).
foreach(_private DuckDB::duckdb LibNode::v8)
  if(TARGET ${_private})
    get_target_property(_private_lib ${_private} IMPORTED_LOCATION)
    install(FILES ${_private_lib} DESTINATION lib/pgcdc)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS usr/lib/pgcdc)
  endif()
endforeach()
if(TARGET pgcdc_wasm_v8)
  install(TARGETS pgcdc_wasm_v8 LIBRARY DESTINATION lib/pgcdc)
endif()
install(FILES ${_gen}/pgcdc.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${_gen}/pgcdc.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME pgcdc)
install(FILES ${_gen}/_pgcdc DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${_gen}/pgcdc.fish DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
install(DIRECTORY ${_gen}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
  FILES_MATCHING PATTERN "*.md")
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/pgcdc.service
  ${PROJECT_SOURCE_DIR}/packaging/systemd/pgcdc@.service
  DESTINATION lib/systemd/system)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/ DESTINATION ${CMAKE_INSTALL_DATADIR}/pgcdc/deploy)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pgcdc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "pgcdc maintainers <pgcdc@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "change data capture from PostgreSQL (and MySQL, MongoDB, SQLite, ...) to anything")
set(CPACK_PACKAGE_DESCRIPTION
  "pgcdc captures row changes (WAL logical replication, LISTEN/NOTIFY, outbox tables, MySQL/MariaDB binlog, MongoDB change streams, SQLite, an inbound webhook gateway) and delivers them to webhooks, SSE, WebSocket, files, Kafka, NATS, Redis, S3, search engines and more, with crash-safe checkpoints.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Not CPACK_STRIP_FILES: the debuginfo step moves the symbols into pgcdc-dbgsym and strips.
set(CPACK_STRIP_FILES OFF)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql-client")
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
