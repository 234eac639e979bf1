/*
 * version.c - which library a program got at run time: the header it was
 * compiled with says TF_VERSION, this file says what was built.
 */
#include "taskfarm.h"

int tf_version(void)
{
    return TF_VERSION;
}

const char *tf_version_string(void)
{
    return TF_VERSION_STRING;
}
