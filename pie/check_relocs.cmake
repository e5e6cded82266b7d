# Fails the build when a blob would need a loader: any relocation section left
# in the linked ELF means some code or data holds an absolute address.
execute_process(COMMAND readelf -S -W ${ELF} OUTPUT_VARIABLE sections RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf failed on ${ELF}")
endif()
if(sections MATCHES "\\.rela?\\.")
  message(FATAL_ERROR "${ELF} has relocations; freestanding blobs must be position independent without a loader (no pointers in initialised data)")
endif()
