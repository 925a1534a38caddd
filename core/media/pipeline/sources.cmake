# The media pipeline: senders and receivers per kind, and the session (SRTP, demux, RTCP loop) joining them.
file(GLOB _pipeline_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
target_sources(tandem_core PRIVATE ${_pipeline_sources})
