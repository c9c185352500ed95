// The model interface's entry for this folder (models/model.h); registry.cpp lists it.
#pragma once

#include "models/model.h"

namespace bpn::models {

const Model& wavenet_model();

}  // namespace bpn::models
