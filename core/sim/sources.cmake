# Simulation helpers (deterministic network link) used by tests on both targets.
target_sources(tandem_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/network.cpp)
