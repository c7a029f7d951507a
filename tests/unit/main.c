/* main.c - the CUnit runner: registers every suite and runs them.
 * Each suite lives in its own test_*.c file and exposes NAME_suite_register(). */
#include <CUnit/Basic.h>

void core_suite_register(void);
void frontend_suite_register(void);
void infer_suite_register(void);
void mir_suite_register(void);
void passes_suite_register(void);
void jit_suite_register(void);
void runtime_suite_register(void);
void kernels_data_suite_register(void);
void kernels_elem_suite_register(void);
void moe_suite_register(void);

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  core_suite_register();
  frontend_suite_register();
  infer_suite_register();
  mir_suite_register();
  passes_suite_register();
  jit_suite_register();
  runtime_suite_register();
  kernels_data_suite_register();
  kernels_elem_suite_register();
  moe_suite_register();
  CU_basic_set_mode(CU_BRM_NORMAL);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}
