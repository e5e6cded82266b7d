# Stats images, --display-stats, --json and the progress line (stats.sh CASE).
foreach(case display json blocked progress)
  add_test(NAME roundtrip.stats.${case}
    COMMAND rt_subreaper ${CMAKE_CURRENT_SOURCE_DIR}/stats.sh $<TARGET_FILE:ckpt> ${CMAKE_CURRENT_BINARY_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/work/stats.${case} ${case})
  set_tests_properties(roundtrip.stats.${case} PROPERTIES TIMEOUT 300 LABELS roundtrip)
endforeach()
