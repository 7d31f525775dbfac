// Fixture: index may include core, but not clip.
#include "core/status.h"
#include "clip/clip_model.h"
