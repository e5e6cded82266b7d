# `cmake --install build [--prefix DIR]`: the binary, its man page ckpt(8)
# (written from docs/user-guide.md at build time), bash completion, and a
# `criu` symlink when asked (-DCKPT_INSTALL_CRIU_LINK=ON), under which name
# ckpt behaves as criu does for the commands it has.
include(GNUInstallDirs)

option(CKPT_INSTALL_CRIU_LINK "Install a criu symlink to ckpt" OFF)

find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(FATAL_ERROR "python3 not found (it writes the man page): install the Debian package 'python3' (or run scripts/install-deps.sh)")
endif()

set(CKPT_MAN_PAGE ${CMAKE_BINARY_DIR}/ckpt.8)
add_custom_command(OUTPUT ${CKPT_MAN_PAGE}
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/man-from-guide.py
          ${PROJECT_SOURCE_DIR}/docs/user-guide.md ${CKPT_MAN_PAGE} ${PROJECT_VERSION}
  DEPENDS ${PROJECT_SOURCE_DIR}/docs/user-guide.md ${PROJECT_SOURCE_DIR}/scripts/man-from-guide.py
  COMMENT "Writing the man page ckpt(8) from docs/user-guide.md")
add_custom_target(ckpt_man DEPENDS ${CKPT_MAN_PAGE})
# Built with the binary (it takes a moment), so that whatever built ckpt
# can install it.
add_dependencies(ckpt ckpt_man)

install(TARGETS ckpt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CKPT_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_SOURCE_DIR}/scripts/bash-completion/ckpt
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
# The criu link, decided when installing: the configured value, unless the
# install script is run with -DCKPT_INSTALL_CRIU_LINK=... (the install test).
install(CODE "
  if(NOT DEFINED CKPT_INSTALL_CRIU_LINK)
    set(CKPT_INSTALL_CRIU_LINK ${CKPT_INSTALL_CRIU_LINK})
  endif()
  if(CKPT_INSTALL_CRIU_LINK)
    set(link \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/criu\")
    message(STATUS \"Installing: \${link} -> ckpt\")
    file(CREATE_LINK ckpt \"\${link}\" SYMBOLIC)
    # The completion answers to that name too.
    file(CREATE_LINK ckpt \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/bash-completion/completions/criu\" SYMBOLIC)
  endif()")
