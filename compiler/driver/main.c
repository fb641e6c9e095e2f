#include "nnzc/ir.h"
int main(void) { return 0; }
