# cmake -DPTXAS=... -DARCH=sm_XX -DPTX=... -DLOG=... -P ptxas_check.cmake
# Assembles one PTX file with ptxas (output discarded) and keeps its -v / -warn-spills report in LOG.
# On failure: no LOG is left behind (so the next build retries) and the report is printed.
execute_process(
  COMMAND "${PTXAS}" -arch=${ARCH} -v -warn-spills -o /dev/null "${PTX}"
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  file(REMOVE "${LOG}")
  message(FATAL_ERROR "ptxas -arch=${ARCH} failed (${rc}) on ${PTX}:\n${out}")
endif()
file(WRITE "${LOG}" "${out}")
if(out MATCHES "[1-9][0-9]* bytes spill")
  message(WARNING "ptxas -arch=${ARCH} reports register spills in ${PTX}; see ${LOG}")
endif()
