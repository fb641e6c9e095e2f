/* nnzc info on what `nnzc compile --target cpu` wrote: an object, a shared object or executable
 * linked from it, or a weights file. The metadata blob (targets/cpu/artifact.h) is found by
 * reading the file itself — the ELF section table, or the weights file's header — with every
 * offset and size checked against the file, so a truncated or hostile file is a one-line error.
 * Needs no LLVM. */
#ifndef NNZC_ELF_INFO_H
#define NNZC_ELF_INFO_H

#include "nnzc/ir.h"

typedef enum ArtifactKind { ARTIFACT_NONE, ARTIFACT_ELF, ARTIFACT_WEIGHTS } ArtifactKind;

/* By the first bytes of the file; ARTIFACT_NONE also when it cannot be read (the model loader
 * then says why). */
ArtifactKind artifact_kind(const char *path);
/* Print what the artifact holds to out; -1 with a message naming the file on any defect. */
int artifact_info(const char *path, FILE *out, Diag *d);

#endif
