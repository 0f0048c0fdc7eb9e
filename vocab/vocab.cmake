# vocab/vocab.cmake: the tool vocabulary (bottom layer: jansson only). vocab/tools.json is compiled in.
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/vocab/vocab_tools_json.c
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/vocab
  COMMAND ${CMAKE_COMMAND} -DIN=${DAWBRIDGE_SOURCE_DIR}/vocab/tools.json
          -DOUT=${CMAKE_BINARY_DIR}/vocab/vocab_tools_json.c -P ${DAWBRIDGE_SOURCE_DIR}/vocab/embed.cmake
  DEPENDS ${DAWBRIDGE_SOURCE_DIR}/vocab/tools.json ${DAWBRIDGE_SOURCE_DIR}/vocab/embed.cmake
  COMMENT "Embedding vocab/tools.json")
add_library(dbvocab STATIC vocab/vocab.c ${CMAKE_BINARY_DIR}/vocab/vocab_tools_json.c)
target_include_directories(dbvocab PUBLIC ${DAWBRIDGE_SOURCE_DIR}/vocab)
target_link_libraries(dbvocab PUBLIC dbutil PkgConfig::JANSSON ${MATH_LIB})

db_add_test(test_vocab SOURCES tests/unit/test_vocab.c LIBS dbvocab)
