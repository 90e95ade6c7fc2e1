# What each long test costs, in seconds on a quiet 2-core machine (make
# test's ctest -j 2), so that ctest starts the longest first and the two
# workers end together instead of a long test starting last. A fresh build
# directory (CI's) has no cost data of its own; ctest uses these. Only the
# order matters: the figures are the last measurement, rounded
# (docs/internals/testing.md, "How long the suite takes"); a test not listed
# runs after these, in ctest's order.
#   name                          release  sanitizer build
set(RAGSIM_TEST_COSTS
    analysis_pytest                   217  0
    doc_examples                       59  0
    notebook_09-headroom               56  0
    experiment/test_determinism        51  100
    scenarios/test_incident_band       45  40
    scenarios/test_incident            20  60
    scenarios/test_fixes               20  60
    scenarios/test_traps               15  45
    models/queueing/test_queueing      10  95
    experiment/test_map                10  90
    experiment/test_run                10  70
    cli/test_hardening                 15  60
    experiment/test_sweep              10  45
    models/components/test_vectordb_shards 5 42
    cli/test_badinputs                 10  41
    models/components/test_vectordb     5  35
    models/components/test_embedder     5  35)
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
