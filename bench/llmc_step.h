// llm.c's CPU reference (karpathy/llm.c train_gpt2.c, MIT), built from BPNINJA_LLMC_DIR with its own
// flags, as one training step at a config we choose: the side-by-side anchor for BM_GPTStepManual.
// Nothing of llm.c is in this project: llmc_step.c includes train_gpt2.c from that folder.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// Random-initialised GPT-2 (weights N(0, 0.02^2), LayerNorms 1 and 0; V unpadded, lm_head tied to
// wte as llm.c has it) and one fixed batch of random tokens and targets in [0, V) (llm.c has no
// ignore index). Returns 0 on success.
int llmc_init(int B, int T, int V, int n_layer, int n_head, int n_embd, unsigned long long seed);
// One step: gpt2_forward + gpt2_zero_grad + gpt2_backward + gpt2_update (AdamW, makemore's settings).
// Returns the loss.
float llmc_step(void);
void llmc_free(void);
// llm.c's OpenMP loops on n threads (a no-op when it was built without OpenMP).
void llmc_set_threads(int n);

#ifdef __cplusplus
}
#endif
