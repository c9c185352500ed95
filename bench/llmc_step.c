// Builds llm.c's train_gpt2.c (from BPNINJA_LLMC_DIR, on the include path) as a library of one step.
// TESTING drops its main(), as llm.c's own test_gpt2.c does. See llmc_step.h.
#define TESTING
#include "train_gpt2.c"

#include "llmc_step.h"

static GPT2 g_model;
static int* g_inputs = NULL;
static int* g_targets = NULL;
static int g_step = 0;

// splitmix64 and Box-Muller: our own draws (llm.c's random_u32 sits behind TESTING)
static unsigned long long g_rng;
static double uniform01(void) {
  unsigned long long z = (g_rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static float normal(void) {
  return (float)(sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01()));
}

int llmc_init(int B, int T, int V, int n_layer, int n_head, int n_embd, unsigned long long seed) {
  llmc_free();
  g_rng = seed;
  GPT2Config c = {T, V, V, n_layer, n_head, n_embd};
  memset(&g_model, 0, sizeof g_model);
  g_model.config = c;
  fill_in_parameter_sizes(g_model.param_sizes, c);
  g_model.num_parameters = 0;
  for (size_t i = 0; i < NUM_PARAMETER_TENSORS; i++) g_model.num_parameters += g_model.param_sizes[i];
  g_model.params_memory = malloc_and_point_parameters(&g_model.params, g_model.param_sizes);
  // LayerNorm weights (ln1w, ln2w, lnfw) 1, biases 0, everything else N(0, 0.02^2)
  float* p = g_model.params_memory;
  for (size_t i = 0; i < NUM_PARAMETER_TENSORS; i++) {
    const int ones = (i == 2 || i == 8 || i == 14), zeros = (i == 3 || i == 9 || i == 15 || i == 5 || i == 7 ||
                                                             i == 11 || i == 13);
    for (size_t j = 0; j < g_model.param_sizes[i]; j++) *p++ = ones ? 1.0f : zeros ? 0.0f : 0.02f * normal();
  }
  g_inputs = (int*)malloc((size_t)B * T * sizeof(int));
  g_targets = (int*)malloc((size_t)B * T * sizeof(int));
  if (!g_inputs || !g_targets) return 1;
  for (int i = 0; i < B * T; i++) {
    g_inputs[i] = (int)(uniform01() * V);
    g_targets[i] = (int)(uniform01() * V);
  }
  g_model.mean_loss = -1.0f;
  // the first forward allocates the activations and prints their count: keep stdout clean
  fflush(stdout);
  const int saved = dup(1);
  FILE* null = fopen("/dev/null", "w");
  if (null) dup2(fileno(null), 1);
  gpt2_forward(&g_model, g_inputs, g_targets, (size_t)B, (size_t)T);
  gpt2_zero_grad(&g_model);
  gpt2_backward(&g_model);  // allocates the gradients
  fflush(stdout);
  if (saved >= 0) dup2(saved, 1), close(saved);
  if (null) fclose(null);
  g_step = 0;
  return 0;
}

float llmc_step(void) {
  gpt2_forward(&g_model, g_inputs, g_targets, (size_t)g_model.batch_size, (size_t)g_model.seq_len);
  gpt2_zero_grad(&g_model);
  gpt2_backward(&g_model);
  gpt2_update(&g_model, 5e-4f, 0.9f, 0.99f, 1e-8f, 0.01f, ++g_step);
  return g_model.mean_loss;
}

void llmc_free(void) {
  if (g_model.params_memory) gpt2_free(&g_model);
  memset(&g_model, 0, sizeof g_model);
  free(g_inputs);
  free(g_targets);
  g_inputs = g_targets = NULL;
}

void llmc_set_threads(int n) {
#ifdef OMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}
