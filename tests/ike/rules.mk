# IKE plane against a real charon in user-mode Linux (tests/ike/run.sh).
IKE_DRIVER = $(BUILD)/tests/ike_driver

$(IKE_DRIVER): tests/ike/ike_driver.c $(AGENT_OBJ) $(BUILD)/libgresec-api.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,$(PKG_AGENT)) -ldl

.PHONY: ike
ike: $(IKE_DRIVER)
	sh tests/ike/run.sh $(abspath $(IKE_DRIVER))

check-extra:: ike
