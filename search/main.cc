#include <CLI/CLI.hpp>
#include <iostream>

#include "core/error.h"
#include "search/cli/app.h"

// The only place where exceptions become exit codes: 0 ok, 2 bad input or usage, 1 runtime failure,
// 130 interrupted.
int main(int argc, char** argv) {
  try {
    return nasforge::run_cli(argc, argv);
  } catch (const nasforge::Interrupted& e) {
    std::cerr << "nasforge: interrupted: " << e.what() << "\n";
    return 130;
  } catch (const nasforge::UsageError& e) {
    std::cerr << "nasforge: usage error: " << e.what() << "\nRun 'nasforge --help' for the commands.\n";
    return 2;
  } catch (const nasforge::ValueError& e) {
    std::cerr << "nasforge: error: " << e.what() << "\n";
    return 2;
  } catch (const nasforge::Error& e) {
    std::cerr << "nasforge: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "nasforge: internal error: " << e.what() << "\n";
    return 1;
  }
}
