"""content/ as the package `jikimi_content`: every word a person reads, shipped as
package data (pyproject.toml). Found through `jikimi.content.content_dir()`."""
