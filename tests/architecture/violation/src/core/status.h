// Fixture: a module that follows the table.
#include <string>
