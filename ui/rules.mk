# The topology map served at /ui/ (api_ui.c): the page, its script and style from ui/, and
# the graph library from ui/node_modules (sh ui/install.sh, npm ci against the lock file),
# copied together into $(BUILD)/ui. Without the library nothing is copied and the
# controller answers /ui/ with a 404 that says so: `make demo` needs no npm.
UI_OWN = $(wildcard ui/*.html ui/*.js ui/*.css)
UI_LIB = ui/node_modules/cytoscape/dist/cytoscape.min.js

.PHONY: ui
all: ui
ifneq ($(wildcard $(UI_LIB)),)
ui: $(patsubst ui/%,$(BUILD)/ui/%,$(UI_OWN)) $(BUILD)/ui/cytoscape.min.js
else
ui:
	@echo "ui: no graph library in ui/node_modules (sh ui/install.sh): /ui/ will answer 404"
endif

$(BUILD)/ui/%: ui/%
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/ui/cytoscape.min.js: $(UI_LIB)
	@mkdir -p $(dir $@)
	cp $< $@

# Installed beside the API document; the controller's default --ui-dir.
$(BUILD)/obj/controller/main.o: ALL_CFLAGS += -DGRESEC_UI_DIR='"$(PREFIX)/share/gresec/ui"'
