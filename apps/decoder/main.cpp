// xray-search-decoder: the image decoder worker process that xray-search starts (decode_image,
// imaging/decoder_pool.h; docs/IMAGING.md, "Containing the codecs"). Not run by hand.
#include "imaging/decoder_pool.h"

int main(int argc, char** argv) {
  return xrs::decoder_worker_main(argc, argv);
}
