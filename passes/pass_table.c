/* The one table of passes the pipeline can name, and the default pipeline. Adding a pass means
 * one file in passes/, one prototype in nnzc/ir.h and one line here. */
#include "nnzc/ir.h"

#include <string.h>

const PassInfo pass_table[] = {
	{"shape-infer", pass_shape_infer, false, "infer dtypes and static shapes; fold shape arithmetic"},
	{"elim-identity", pass_elim_identity, false, "remove Identity and inference-mode Dropout"},
	{"fold-constants", pass_fold_constants, false, "evaluate nodes whose inputs are all constant"},
	{"fold-bn", pass_fold_bn, false, "fold BatchNormalization into the preceding Conv/Gemm"},
	{"fuse", pass_fuse, false, "fuse bias, activation and residual Add into Conv/Gemm"},
	{"dce", pass_dce, false, "remove nodes and constants that no output depends on"},
	{"subsample-1x1", pass_subsample_1x1, false, "strided 1x1 Conv: a Slice with those steps, then stride 1 (cpu)"},
	{"tasd", pass_tasd, true, "weights as sums of N:M terms: tasd(2:4+1:4) or per layer tasd(search:0.05)"},
	{"tasd-activations", pass_tasd_activations, true, "decompose conv/gemm inputs at run time (nnzc.TasdActivation)"},
	{"prune", pass_prune, true, "magnitude pruning: prune(unstructured:S|nm:N:M|block:RxC:S|channel:S|gs:V:B:S;...)"},
	{"convert-pattern", pass_convert_pattern, true, "re-encode weights for a target: convert-pattern(nm:2:4|gs:V:B|...)"},
	{"detect-sparsity", pass_detect_sparsity, false, "encode pruned weights exactly: nm, bsr or csr from their zeros"},
};
const int pass_table_size = (int)(sizeof pass_table / sizeof pass_table[0]);

const char *const default_pipeline = "shape-infer,elim-identity,fold-constants,fold-bn,fuse,dce";

const PassInfo *pass_find(const char *name)
{
	for (int i = 0; i < pass_table_size; i++)
		if (strcmp(pass_table[i].name, name) == 0)
			return &pass_table[i];
	return NULL;
}
