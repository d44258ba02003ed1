# The Debian package: `cpack -G DEB` in the build directory. Installs the binary, the hardened
# unit, /etc/crdb-certwatch/config.yaml (a conffile) and the docs; the maintainer scripts in
# packaging/deb create the system user.
install(FILES ${PROJECT_SOURCE_DIR}/systemd/crdb-certwatch.service
  DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/config/default.yaml
  DESTINATION /etc/crdb-certwatch RENAME config.yaml)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/config/config.example.yaml
  ${PROJECT_SOURCE_DIR}/config/web-config.example.yml
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
if(EXISTS ${PROJECT_SOURCE_DIR}/deploy/runbooks)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/runbooks/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/runbooks
    FILES_MATCHING PATTERN "*.md")
endif()

# What an operator wires into Prometheus and Grafana, next to the binary: the rules generated from
# the default config (scripts/regen-deploy.sh) and the dashboard.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/crdb-certwatch.rules.yml
  DESTINATION ${CMAKE_INSTALL_DATADIR}/crdb-certwatch/prometheus)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/grafana/crdb-certwatch.json
  DESTINATION ${CMAKE_INSTALL_DATADIR}/crdb-certwatch/grafana)
# Debian policy 12.5: every package ships its copyright file in its doc directory.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/deb/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# cpack installs what is built instead of first building every target (tests and benchmarks
# included): the package holds only the daemon and files, and its test must not rebuild the tree.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPACK_PACKAGE_NAME crdb-certwatch)
set(CPACK_PACKAGE_VENDOR "crdb-certwatch")
set(CPACK_PACKAGE_CONTACT "crdb-certwatch maintainers <maintainers@crdb-certwatch.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "CockroachDB certificate expiry exporter for Prometheus")
set(CPACK_PACKAGE_DESCRIPTION
  "Watches CockroachDB certificates on disk and in the cluster and serves their expiry, with rotation alert labels, as Prometheus metrics.")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # needs dpkg-dev (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/crdb-certwatch/crdb-certwatch")
# dpkg only treats files as conffiles when told; list the config so upgrades keep local edits.
file(WRITE ${PROJECT_BINARY_DIR}/packaging/conffiles "/etc/crdb-certwatch/config.yaml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/deb/postinst
  ${PROJECT_SOURCE_DIR}/packaging/deb/prerm
  ${PROJECT_SOURCE_DIR}/packaging/deb/postrm
  ${PROJECT_BINARY_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
