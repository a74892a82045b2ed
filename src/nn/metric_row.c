/* metric_row.c - names and properties of the metric row's columns (see metric_row.h). */
#include "metric_row.h"

#include <string.h>

static const struct {
    const char *name;
    int selectable, maximize;
} columns[HP_METRIC_COLS] = {
#define HP_X_INFO(id, name, field, selectable, maximize) {#name, selectable, maximize},
    HP_METRIC_ROW(HP_X_INFO)
#undef HP_X_INFO
};

const char *hp_metric_name(hp_metric column)
{
    return column >= 0 && column < HP_METRIC_COLS ? columns[column].name : "?";
}

int hp_metric_find(const char *name)
{
    for (int c = 0; c < HP_METRIC_COLS; c++)
        if (strcmp(columns[c].name, name) == 0)
            return c;
    return -1;
}

int hp_metric_selectable(hp_metric column)
{
    return column >= 0 && column < HP_METRIC_COLS && columns[column].selectable;
}

int hp_metric_maximize_default(hp_metric column)
{
    return column >= 0 && column < HP_METRIC_COLS && columns[column].maximize;
}
