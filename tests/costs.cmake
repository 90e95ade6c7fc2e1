# What each long test costs, in seconds, so that ctest -j (make test's, on
# 2 cores) starts the longest first and the workers end together instead of
# a long test starting last: a fresh build directory (CI's) has no cost data
# of its own, and ctest used the order of declaration, the Python tests and
# the notebooks last. Measured by make test on 2026-12-07 on a 2-core
# machine shared with other jobs (load ~10: the figures are 2-3 times a
# quiet machine's); only their order matters. Not listed, or 0 in a
# build: shorter, run after these in ctest's order (docs/internals/testing.md,
# "How long the suite takes").
#   name                                    release  sanitizer build
set(RAGSIM_TEST_COSTS
    analysis_pytest                           650     0
    doc_examples                              233     0
    notebook_09-headroom                      190     0
    scenarios/test_fixes                       84   189
    experiment/test_determinism               121   170
    scenarios/test_incident_band              166    26
    scenarios/test_incident                    39    98
    notebook_07-incident                       95     0
    analysis_report_screenshot                 67     0
    notebook_03-vectordb-avalanche             51     0
    scenarios/test_hysteresis                  28    46
    notebook_04-memory-leak                    43     0
    notebook_01-getting-started                36     0
    cli/test_badinputs                         13    34
    cli/test_hardening                         28    33
    scenarios/test_traps                       31    31
    analysis_replay_browser                    30     0
    notebook_08-capacity-planning              28     0
    experiment/test_map                        12    28
    models/queueing/test_queueing              12    23
    experiment/test_sweep                       9    21
    experiment/test_run                         8    19
    models/components/test_vectordb_shards      6    11)
list(LENGTH RAGSIM_TEST_COSTS n)
math(EXPR last "${n} - 1")
foreach(i RANGE 0 ${last} 3)
  math(EXPR j "${i} + 1")
  math(EXPR k "${i} + 2")
  list(GET RAGSIM_TEST_COSTS ${i} name)
  if(RAGSIM_SANITIZE)
    list(GET RAGSIM_TEST_COSTS ${k} cost)
  else()
    list(GET RAGSIM_TEST_COSTS ${j} cost)
  endif()
  if(TEST ${name} AND cost GREATER 0)
    set_tests_properties(${name} PROPERTIES COST ${cost})
  endif()
endforeach()
