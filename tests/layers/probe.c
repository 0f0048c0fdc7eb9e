/* A probe of the layer wiring (tests/layers/layers.cmake): compiled with one layer's libraries, it includes
 * PROBE_HEADER. A header of the same or a lower layer must compile; a header of a higher layer must not be found. */
#include PROBE_HEADER

int dawbridge_layers_probe(void) { return 0; }
